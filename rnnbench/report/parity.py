"""The parity table: per backend, impl, dtype and kind of check, the worst error against its tolerance.

Read from ``rnnbench check`` records. When a case was checked more than
once on a machine, its latest row counts. A row that raised has no error
value (NaN) and counts as failed, with its message in the notes.
"""

from __future__ import annotations

import math

import pandas as pd

from rnnbench.report.section import Block, Section, missing

CASE_IDENTITY = ["host", "check_mode", "backend", "impl", "case", "dtype"]
GROUP = ["check_mode", "backend", "impl", "dtype"]


def parity_section(frame) -> Section | None:
    rows = frame[frame["kind"] == "check"]
    if rows.empty:
        return None
    rows = rows.sort_values("started_at", kind="stable").drop_duplicates(CASE_IDENTITY, keep="last")
    rows = rows.assign(passed=rows["passed"].astype(bool), max_rel=rows["max_rel"].astype(float))
    out = []
    for key, part in rows.groupby(GROUP, sort=False):
        errors = [v for v in part["max_rel"] if not missing(v)]
        worst_at = part.loc[part["max_rel"].fillna(math.inf).idxmax()]
        out.append(
            {
                **dict(zip(GROUP, key)),
                "cases": len(part),
                "passed": int(part["passed"].sum()),
                "worst_rel": max(errors) if errors else None,
                "worst_case": f"{worst_at['case']} {worst_at['worst'] or ''}".strip(),
                "tolerance": float(part["tolerance"].max()),
                "failures": ", ".join(part.loc[~part["passed"], "case"]),
            }
        )
    table = pd.DataFrame(out).sort_values(["check_mode", "backend", "impl", "dtype"], kind="stable")
    header = ["check", "backend", "impl", "dtype", "passed", "worst rel err", "worst at", "tolerance", "failed"]
    printed = [
        [
            r["check_mode"],
            r["backend"],
            r["impl"],
            r["dtype"],
            f"{r['passed']}/{r['cases']}",
            "-" if missing(r["worst_rel"]) else f"{r['worst_rel']:.2e}",
            r["worst_case"],
            f"{r['tolerance']:.0e}",
            r["failures"] or "-",
        ]
        for _, r in table.iterrows()
    ]
    notes = [
        "norm-wise relative error max|a-b| / max(max|a|, max|b|) against the float64 NumPy reference "
        "(finite differences for the reference itself)"
    ]
    for _, r in rows[rows["error"].notna() & ~rows["passed"]].iterrows():
        notes.append(f"{r['backend']} {r['impl']} {r['case']} {r['dtype']}: {r['error']}")
    return Section(
        "parity",
        "Parity with the NumPy reference",
        table.reset_index(drop=True),
        [Block("worst error per backend and dtype", header, printed)],
        notes,
    )
