"""The speed table: bench rows side by side, each against the fastest backend for the same configuration.

Rows are compared only within one machine and one configuration (cell,
pass, dtype, shape, threads): an unequal thread count makes a ratio
meaningless. For trees the recorded ``steps`` is the schedule's length
(levels or nodes), which differs between level-batched and node-by-node,
so it is no part of the configuration: their ratio is the batching speed-up.
A configuration measured again on the same machine shows its latest
measurement; a note says how many older ones were left out.
"""
from __future__ import annotations

import pandas as pd

from rnnbench.report.section import Block, Section, missing, row_keys, sig

CONFIG = ["host", "structure", "cell", "pass", "dtype", "batch", "config_steps", "input", "hidden", "layers",
          "bidirectional", "trees", "nodes", "threads"]
IDENTITY = CONFIG + ["backend", "impl", "device"]


def speed_section(frame) -> Section | None:
    rows = frame[frame["kind"] == "bench"]
    if rows.empty:
        return None
    rows, superseded = latest_rows(rows)
    table = with_ratios(rows)
    several_hosts = table["host"].nunique() > 1
    several_devices = table["device"].nunique() > 1
    header = (["host"] if several_hosts else []) + ["cell", "pass", "dtype", "size", "threads", "backend", "impl"] \
        + (["device"] if several_devices else []) + \
        ["median ms", "IQR ms", "throughput", "GFLOP/s", "% peak", "vs fastest", "status"]
    printed = []
    for _, r in table.iterrows():
        printed.append(([r["host"]] if several_hosts else []) + [
            r["cell"], r["pass"], r["dtype"], shape_label(r), _int(r["threads"]), r["backend"], r["impl"]]
            + ([r["device"]] if several_devices else []) + [
            _ms(r["median_s"]), _ms(r["iqr_s"]), _throughput(r), sig(r["gflops_per_s"]),
            "-" if missing(r["peak_fraction"]) else sig(100 * r["peak_fraction"], 2),
            "-" if missing(r["vs_fastest"]) else f"{r['vs_fastest']:.2f}x",
            _status(r)])
    notes = ["size: batch x steps x input x hidden for sequences; trees (nodes) input x hidden for trees; median "
             "and IQR of the raw samples of one call; vs fastest: this median over the fastest median of the same "
             "configuration on the same machine (1.00x = fastest); ! = the measurement has a warning, below"]
    if superseded:
        notes.append(f"{superseded} older measurement(s) of a configuration measured again were left out")
    counted, listed = _warning_notes(table)
    return Section("speed", "Speed", table.drop(columns=["record"], errors="ignore"),
                   [Block("time per call", header, printed, keys=len(header) - 7)],
                   notes + counted, verbose=listed)


def latest_rows(rows) -> tuple[pd.DataFrame, int]:
    """The latest measurement of each (machine, configuration, backend, impl, device), and how many were dropped."""
    rows = rows.assign(**{c: rows[c] if c in rows else None for c in IDENTITY if c != "config_steps"})
    rows = rows.assign(config_steps=[None if s == "tree" else t for s, t in zip(rows["structure"], rows["steps"])])
    keyed = rows.assign(_key=row_keys(rows, IDENTITY)).sort_values("started_at", kind="stable")
    latest = keyed.drop_duplicates("_key", keep="last")
    return latest.drop(columns=["_key"]), len(keyed) - len(latest)


def with_ratios(rows) -> pd.DataFrame:
    """Add ``vs_fastest``: median over the smallest ok median of the same machine and configuration."""
    rows = rows.copy()
    rows["_config"] = row_keys(rows, CONFIG)
    ok = rows["status"].eq("ok") & rows["median_s"].notna()
    fastest = rows[ok].groupby("_config")["median_s"].min()
    rows["vs_fastest"] = [m / fastest[c] if good and c in fastest else None
                          for m, c, good in zip(rows["median_s"], rows["_config"], ok)]
    order = ["host", "structure", "cell", "pass", "dtype", "_config", "median_s"]
    return rows.sort_values(order, kind="stable", na_position="last").drop(columns=["_config"]).reset_index(drop=True)


def shape_label(row) -> str:
    """``64x100x128x256`` for a sequence batch, ``25 trees (1000 nodes) 300x150`` for a tree batch."""
    if row.get("structure") == "tree":
        nodes = "" if missing(row.get("nodes")) else f" ({_int(row.get('nodes'))} nodes)"
        return f"{_int(row.get('trees'))} trees{nodes} {_int(row.get('input'))}x{_int(row.get('hidden'))}"
    label = "x".join(_int(row.get(k)) for k in ("batch", "steps", "input", "hidden"))
    layers = row.get("layers")
    label += f":L{_int(layers)}" if not missing(layers) and layers and int(layers) > 1 else ""
    both = row.get("bidirectional")
    return label + (":bi" if not missing(both) and both is not None and bool(both) else "")


def compact(value) -> str:
    """``668585`` as ``669k``: throughput spans many orders of magnitude."""
    if missing(value):
        return "-"
    for factor, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= factor:
            return f"{sig(value / factor)}{suffix}"
    return sig(value)


def _throughput(row) -> str:
    unit = row.get("items_unit")
    if missing(unit) or not unit:  # records before items_unit: tokens for sequences, nodes for trees
        unit = "nodes" if row.get("structure") == "tree" else "tokens"
    return "-" if missing(row.get("items_per_s")) else f"{compact(row['items_per_s'])} {unit}/s"


def _status(row) -> str:
    if row["status"] != "ok":
        return f"{row['status']}: {row['error'] or ''}".strip()
    return "ok !" if row.get("warning_list") else "ok"


def _warning_notes(table) -> tuple[list[str], list[str]]:
    """One note per kind of warning ("unstable", "busy machine") with its count, and every warning listed.

    Thirty lines of "unstable" bury the table; the count says as much, and
    ``--verbose`` (or the HTML's details) shows which measurement said what.
    """
    kinds, listed = {}, []
    for _, r in table.iterrows():
        for warning in r.get("warning_list") or ():
            kind = str(warning).split(":")[0].strip() or "warning"
            kinds[kind] = kinds.get(kind, 0) + 1
            listed.append(f"warning: {r['backend']} {r['impl']} {r['cell']} {r['pass']} {shape_label(r)}: {warning}")
    counted = [f"warning: {n} measurement(s) {kind} (--verbose lists them)" for kind, n in kinds.items()]
    return counted, listed


def _int(value) -> str:
    return "-" if missing(value) else str(int(value))


def _ms(seconds) -> str:
    return sig(None if missing(seconds) else 1000.0 * seconds)
