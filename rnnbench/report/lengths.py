"""The ragged-text table: each backend's batching strategies on real lengths (``bench --suite lengths``).

One block a dataset, from the latest lengths record of each machine: per backend its best strategy
first, then the others with their ratio to it (the median of per-round ratios with its 95% interval,
:mod:`rnnbench.bench.lengths`). Each row says how much padding its batches carried and how many real
tokens a second it trained on; a row that is not stable says so in its status, with the reason,
so a figure from a busy machine never reads as a fact.
"""

from __future__ import annotations

from rnnbench.report.section import Block, Section, missing, sig
from rnnbench.report.trust import ratio_text


def lengths_section(frame) -> Section | None:
    rows = frame[frame["kind"] == "lengths"]
    if rows.empty:
        return None
    # each backend's latest measurement of a dataset on a machine (a backend timed alone later replaces only itself)
    rows = rows.sort_values("started_at", kind="stable")
    latest = rows.groupby(["host", "lengths_of", "backend"], sort=False)["path"].transform("last")
    rows = rows[rows["path"] == latest]
    header = ["dataset", "backend", "strategy", "padding", "ms / 1k real tokens", "real tokens/s", "× best", "status"]
    blocks, notes, shown = [], [], []
    for (host, dataset), part in rows.groupby(["host", "lengths_of"], sort=False):
        printed = []
        for _, group in part.groupby("backend", sort=False):
            # best first: by the ratio from the rounds where there is one (1.00x is the best), else by the median
            order = group["ratio_to_fastest"].where(
                group["ratio_to_fastest"].notna(), group["ms_per_1k_tokens"] / group["ms_per_1k_tokens"].min()
            )
            group = group.assign(_order=order.fillna(float("inf"))).sort_values("_order", kind="stable")
            best = group["ms_per_1k_tokens"].min()
            for _, r in group.iterrows():
                printed.append(
                    [
                        dataset,
                        r["backend"],
                        r["strategy"],
                        f"{r['padding_fraction']:.2f}",
                        _per_1k(r),
                        "-" if missing(r["useful_tokens_per_s"]) else f"{r['useful_tokens_per_s']:,.0f}",
                        _ratio(r, best),
                        _status(r),
                    ]
                )
                shown.append(r)
        record = part["record"].iloc[-1]
        described = ((record.get("config") or {}).get("datasets") or {}).get(dataset) or {}
        machine = record.get("machine") or {}
        title = f"{dataset}: {_source(described)}" + (f" ({host})" if rows["host"].nunique() > 1 else "")
        names = ", ".join(dict.fromkeys(str(p).rsplit("/", 1)[-1] for p in part["path"]))
        blocks.append(
            Block(
                title,
                header,
                printed,
                keys=3,
                notes=[
                    f"{machine.get('cpu_model') or 'unknown CPU'}, {record['config'].get('threads')} thread(s); {names}"
                ],
            )
        )
    notes.append(
        "forward+backward of the textclf model (its default sizes) over the same batches of each dataset's "
        "real training lengths; random: shuffled batches padded to their longest; bucketed: the tasks' "
        "batching; sorted: the whole split sorted by length; packed: the random batches through the "
        "framework's path that skips padded steps. padding: padded steps over all steps of the timed "
        "batches; × best: the median of per-round ratios to the backend's best strategy [95% interval]. "
        "docs/speed.md says what it means for training"
    )
    frame_out = rows.loc[[r.name for r in shown]].drop(columns=["record"], errors="ignore")
    return Section("lengths", "Ragged text: padding, bucketing and packing", frame_out, blocks, notes)


def _per_1k(r) -> str:
    value = r["ms_per_1k_tokens"]
    if missing(value):
        return "-"
    ci = r.get("ci95_s")
    if ci and not missing(r["median_s"]) and r["median_s"]:
        half = max(r["median_s"] - ci[0], ci[1] - r["median_s"]) / r["median_s"]
        pct = 100 * half
        return f"{sig(value)} ±{pct:.0f}%" if pct >= 10 else f"{sig(value)} ±{pct:.2g}%"
    return sig(value)


def _ratio(r, best) -> str:
    if missing(r["ms_per_1k_tokens"]) or missing(best):
        return "-"
    ratio = r["ratio_to_fastest"] if not missing(r.get("ratio_to_fastest")) else r["ms_per_1k_tokens"] / best
    return ratio_text(ratio, r.get("ratio_ci95"))


def _status(r) -> str:
    if r["status"] != "ok":
        return f"{r['status']}: {r['error']}" if r.get("error") else r["status"]
    if r.get("row_stable"):
        return "stable"
    reasons = r.get("row_reasons") or ()
    return "unstable" + (f": {'; '.join(reasons)}" if reasons else "")


def _source(described: dict) -> str:
    source = described.get("lengths_source") or {}
    if source.get("source") == "synthetic":
        where = f"SYNTHETIC lengths drawn from the recorded histogram of {source.get('histogram_of')}"
    else:
        where = f"{source.get('texts', '?')} training texts"
    if "mean_length" not in described:
        return where
    return (
        f"{where}, mean {described['mean_length']:.1f} tokens, max {described['max_length']}; batches of "
        f"{described['batch_size']} texts ({described['token_budget']} real tokens on average)"
    )
