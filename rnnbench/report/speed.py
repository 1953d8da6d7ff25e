"""The speed table: bench rows side by side, each against the fastest backend for the same configuration.

Rows are compared only within one machine and one configuration (cell,
pass, dtype, shape, threads): an unequal thread count makes a ratio
meaningless. For trees the recorded ``steps`` is the schedule's length
(levels or nodes), which differs between level-batched and node-by-node,
so it is no part of the configuration: their ratio is the batching speed-up.
A configuration measured again on the same machine shows its latest
measurement; a note says how many older ones were left out. Rows the
report does not trust (:mod:`rnnbench.report.trust`) are listed apart, with
their reasons, in a "Not trusted" table.
"""

from __future__ import annotations

import pandas as pd

from rnnbench.report.section import Block, Section, missing, row_keys, sig
from rnnbench.report.trust import median_text, mib, ratio_text, shown_ratio

CONFIG = [
    "host",
    "structure",
    "cell",
    "pass",
    "dtype",
    "batch",
    "config_steps",
    "input",
    "hidden",
    "layers",
    "bidirectional",
    "trees",
    "nodes",
    "threads",
]
IDENTITY = CONFIG + ["backend", "impl", "device"]


def speed_section(frame) -> Section | None:
    rows = frame[frame["kind"] == "bench"]
    if rows.empty:
        return None
    rows, superseded = latest_rows(rows)
    trusted = _trusted(rows)
    shown, doubted = rows[trusted | rows["status"].ne("ok")], rows[~trusted & rows["status"].eq("ok")]
    table = with_ratios(shown, incomplete=set(row_keys(doubted, CONFIG)) if not doubted.empty else set())
    several_hosts = table["host"].nunique() > 1
    several_devices = table["device"].nunique() > 1
    memory, first_call = _has(table, "peak_bytes"), _has(table, "first_call_s")
    header = (
        (["host"] if several_hosts else [])
        + ["cell", "pass", "dtype", "size", "threads", "backend", "impl"]
        + (["device"] if several_devices else [])
        + ["median ms", "throughput", "GFLOP/s", "% peak", "× fastest"]
        + (["peak MiB"] if memory else [])
        + (["first call ms"] if first_call else [])
        + ["status"]
    )
    printed = []
    for _, r in table.iterrows():
        printed.append(
            ([r["host"]] if several_hosts else [])
            + [r["cell"], r["pass"], r["dtype"], shape_label(r), _int(r["threads"]), r["backend"], r["impl"]]
            + ([r["device"]] if several_devices else [])
            + [
                median_text(r["median_s"], _ci(r)),
                _throughput(r),
                sig(r["gflops_per_s"]),
                "-" if missing(r["peak_fraction"]) else sig(100 * r["peak_fraction"], 2),
                ratio_text(r["vs_fastest"], r["vs_fastest_ci"]),
            ]
            + ([mib(r.get("peak_bytes"))] if memory else [])
            + ([_ms(r.get("first_call_s"))] if first_call else [])
            + [_status(r)]
        )
    notes = [
        "size: batch x steps x input x hidden for sequences; trees (nodes) input x hidden for trees; median "
        "of the raw samples of one call ± the larger side of its 95% interval (docs/speed.md); × fastest: "
        "the median of the per-round ratios to the fastest row of the same configuration when the record "
        "sampled them in interleaved rounds, with their 95% interval in brackets, else this median over the "
        "fastest median on the same machine (1.00× = fastest); ! = the measurement has a warning, below"
    ]
    if superseded:
        notes.append(
            f"{superseded} measurement(s) of a configuration measured again were left out: the latest "
            "trusted one is shown, else the latest"
        )
    blocks = [Block("time per call", header, printed, keys=header.index("median ms"))]
    if not doubted.empty:
        blocks.append(not_trusted_block(doubted))
        notes.append(
            f"{len(doubted)} measurement(s) not trusted (unstable, or from a busy or slow session) are "
            "in the last table with their reasons, never in the summary or the charts"
        )
    counted, listed = _warning_notes(table)
    return Section(
        "speed", "Speed", table.drop(columns=["record"], errors="ignore"), blocks, notes + counted, verbose=listed
    )


def _trusted(rows) -> pd.Series:
    return rows["trusted"].astype(bool) if "trusted" in rows else pd.Series(True, index=rows.index)


def not_trusted_block(rows) -> Block:
    """The rows the report does not quote, with their reasons: one line for a record distrusted as a whole
    (its session was busy or slow), one line a row for a row unstable on its own."""
    header = ["configuration", "backend", "impl", "record", "reasons"]
    printed = []
    whole = rows["record_trusted"].eq(False) if "record_trusted" in rows else pd.Series(False, index=rows.index)
    for _, part in rows[whole].groupby("path", sort=False):
        first = part.iloc[0]
        printed.append(
            [
                f"every row ({len(part)})",
                ", ".join(sorted(part["backend"].astype(str).unique())),
                ", ".join(sorted(part["impl"].astype(str).unique())),
                record_label(first),
                "; ".join(first["trust_reasons"] or ()),
            ]
        )
    for _, r in rows[~whole].iterrows():
        printed.append(
            [
                f"{r['cell']} {r['pass']} {r['dtype']} {shape_label(r)}, {_int(r['threads'])} threads",
                r["backend"],
                r["impl"],
                record_label(r),
                "; ".join(r["trust_reasons"] or ()) or "-",
            ]
        )
    return Block("Not trusted", header, printed, keys=1)


def record_label(row) -> str:
    """``cpu 2026-11-30 12:24``: a bench record by its suite and start."""
    return f"{row.get('suite') or 'bench'} {str(row.get('started_at') or '')[:16].replace('T', ' ')}".strip()


def _has(table, column: str) -> bool:
    return column in table and table[column].notna().any()


def _ci(row):
    ci = row.get("ci95_s")
    return None if ci is None or (isinstance(ci, float) and missing(ci)) else list(ci)


def latest_rows(rows) -> tuple[pd.DataFrame, int]:
    """The latest measurement of each (machine, configuration, backend, impl, device), and how many were dropped:
    the latest trusted one when there is one, so a later busy session never hides a good measurement."""
    rows = rows.assign(**{c: rows[c] if c in rows else None for c in IDENTITY if c != "config_steps"})
    rows = rows.assign(config_steps=[None if s == "tree" else t for s, t in zip(rows["structure"], rows["steps"])])
    keyed = rows.assign(_key=row_keys(rows, IDENTITY), _trusted=_trusted(rows))
    keyed = keyed.sort_values(["_trusted", "started_at"], kind="stable")
    latest = keyed.drop_duplicates("_key", keep="last").sort_values("started_at", kind="stable")
    return latest.drop(columns=["_key", "_trusted"]), len(keyed) - len(latest)


def with_ratios(rows, incomplete=frozenset()) -> pd.DataFrame:
    """Add ``vs_fastest`` and ``vs_fastest_ci``: the recorded ratio from interleaved rounds and its interval when
    every row of the configuration here is from one record and none of it was left out (``incomplete``: keys of
    configurations with rows not shown), so the record's fastest is among them; else the median over the
    smallest ok median of the same machine and configuration, without an interval."""
    rows = rows.copy()
    rows["_config"] = row_keys(rows, CONFIG)
    ok = rows["status"].eq("ok") & rows["median_s"].notna()
    fastest = rows[ok].groupby("_config")["median_s"].min()
    one_record = rows[ok].groupby("_config")["path"].nunique().eq(1)
    ratios, intervals = [], []
    for _, r in rows.iterrows():
        c, good = r["_config"], r["status"] == "ok" and not missing(r["median_s"])
        ratio, ci = shown_ratio(r, fastest[c], bool(one_record[c]) and c not in incomplete) if good else (None, None)
        ratios.append(ratio)
        intervals.append(ci)
    rows["vs_fastest"], rows["vs_fastest_ci"] = ratios, pd.Series(intervals, index=rows.index, dtype=object)
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
